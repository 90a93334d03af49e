"""Cost of a method: parameters, compute, latency and accelerator estimates."""
