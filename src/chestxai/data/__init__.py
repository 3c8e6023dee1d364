"""Data: reading images and datasets, preprocessing, splits and the decoded-image cache."""
