"""dlref: the reference implementations behind the dlref deep-learning interview site.

Pure numpy functions, each with its backward pass, checked by finite differences and against PyTorch in
float64. Import the modules you need (`from dlref import activations`); only numpy is imported here.
"""

__version__ = "0.1.0"
