"""`ton-exporter compare`: a candidate run judged against a baseline run."""
