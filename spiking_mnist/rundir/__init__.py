"""What each file of a run directory holds: written by the runners, read by the analysis.

:mod:`.checkpoint`: a trained (or training) network; :mod:`.hierarchy`: the patch
hierarchy's parameters and codes.
"""
