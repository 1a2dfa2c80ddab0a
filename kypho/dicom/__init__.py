"""DICOM objects kypho writes: SEG, Comprehensive 3D SR (TID 1500) and Encapsulated PDF."""
