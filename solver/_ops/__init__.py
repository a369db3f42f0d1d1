"""The operations search core: ruin and recreate over fully simulated routes."""
