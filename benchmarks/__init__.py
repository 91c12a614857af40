"""asv benchmarks of jaxstab: speed (``time_``), memory (``peakmem_``) and stability
numbers of the article studies (``track_``). See README.md in this folder."""
