"""midtrain mixing stage."""
