"""How far a sheet reaches, read from the file's own bytes before any reader lays it out: the shared budget
and rule in `budget`, one module per format (`xlsx`, `xlsb`, `xls`, `ods`). See `budget` for the whole story."""
