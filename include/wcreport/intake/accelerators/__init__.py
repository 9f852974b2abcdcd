"""Speed-ups behind intake's plain path, each one a cache the plain path never needs.

``REPORT_ACCELERATORS=off`` turns every one of them off (``wcreport.core.settings.accelerators_on``):
no cache file is read or written, and the results are the same.

* ``read_cache``: a parsed report and a stamped copy's reading, by content hash, so the
  many scans of a quarter read each content once;
* ``stat_cache`` and ``cached_scan``: the records of inbox files unchanged since the last
  scan, so a rescan processes only new or changed files and a unit's scan reads only its own;
* ``unit_listing``: a unit's scan that skips other units' folders.

One speed-up lives beside the mechanism it speeds up: ``intake.bounded.warm``, the warm
child process that runs bounded parses one after another (off with the rest).
"""
from wcreport.intake.accelerators.keys import programme_fingerprint

__all__ = ["programme_fingerprint"]
