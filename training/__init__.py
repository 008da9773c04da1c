"""midtrain training stage."""
