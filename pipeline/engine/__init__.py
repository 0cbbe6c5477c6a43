"""The build engine: rebuild only what changed and say why (stage interface and freshness, state, executors, build)."""
