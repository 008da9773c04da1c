"""midtrain curation stage."""
