"""The experiments ``skkd demo`` runs: an application of skkd, imported only by :mod:`skkd.cli`."""
