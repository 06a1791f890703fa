"""WHO growth standards: z-scores and percentiles exactly as WHO's own software computes them."""
