"""Operations: deployment checks, test prerequisites and benchmarks (``ops.bench``)."""
