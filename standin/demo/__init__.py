"""Demo data for screenshots, benchmarks and tests: believable databases seeded through the same agent functions as the app."""
