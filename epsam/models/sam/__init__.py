"""models/sam."""
