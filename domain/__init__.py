"""Pure rules with no I/O: enumerations, definitions and formulas shared by every layer."""
