# The seed's target names (seed 000, 004), each calling the npm script that does the work.
.PHONY: start test check db-migrate db-seed dev-smoke compose-dev-up compose-dev-down bench

start:
	npm start

test:
	npm test

check:
	npm run check

db-migrate:
	npm run db:migrate

db-seed:
	npm run db:seed

# Against a running stack: PROXY_URL, IBEX_TOKEN and IBEX_AGENT_ID (npm start prints them).
dev-smoke:
	npm run smoke

# For machines with Docker: Postgres, Redis, auth and proxy (docker-compose.yml). `up -d` waits
# for the migrate job (auth depends on its success); its log holds the seed, with the PAT on
# the first start, so it is printed here rather than left in `docker compose logs migrate`.
compose-dev-up:
	docker compose up -d
	docker compose logs --no-log-prefix migrate

compose-dev-down:
	docker compose down

bench:
	npm run bench
