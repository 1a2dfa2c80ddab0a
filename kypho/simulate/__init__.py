"""Simulate the kyphoplasty on the patient's vertebra: QCT finite elements, balloon, cement."""
