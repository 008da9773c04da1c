"""midtrain evaluation stage."""
