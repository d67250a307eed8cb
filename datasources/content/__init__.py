"""Content operations: the health encyclopedia, homepage configuration, e-banners and letters."""
