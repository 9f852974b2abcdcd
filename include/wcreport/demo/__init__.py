"""Sample unit submissions for `make demo` and `wcreport sample`: generated from the programme file."""
