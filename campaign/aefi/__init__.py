"""AEFI that is chased (issue 20, part 4): adverse events after immunization validated per the WHO core
variables, serious cases investigated within 24 hours (Decree 104/2016), case rates per 100,000 doses.
`rules` (pure), `store` (reads), `present` (words, JSON), `run` (the steps the CLI, the watch and a task call)."""
