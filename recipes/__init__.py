"""midtrain recipes stage."""
