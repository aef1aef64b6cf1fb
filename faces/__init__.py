"""The faces of the system: the command line and the district portal, above flows/."""
