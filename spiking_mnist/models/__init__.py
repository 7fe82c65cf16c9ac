"""What the networks are: populations by role, projections by rule, parameters with units.

Nothing here imports a simulator: builders take the PyNN module (``sim``) as an argument.
"""
