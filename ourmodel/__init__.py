"""The in-house asymmetric dual encoder (model, losses, sampler, training).

Empty until the model lands; see the project's issues.
"""
