"""The faces of the campaign orchestrator, above the core (`campaign`) and the flows: the command line
(`faces.cli`, the `campaign` command) and the district upload portal. They parse, call the core or a flow,
and print or render; the rules live in the core."""
