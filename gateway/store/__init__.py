"""TimescaleDB store: pool, migrations, batched COPY writer, queries."""
