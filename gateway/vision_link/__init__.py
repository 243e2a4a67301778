"""Frames to the detector and its observations back: the bounded sink and its journal of pending frames."""
