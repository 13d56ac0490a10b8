"""The pure planner: model facts -> memory model -> parallelism -> values. Imports no I/O library."""
