"""The standards desk: web console, JSON API and the client behind `candour desk`."""
