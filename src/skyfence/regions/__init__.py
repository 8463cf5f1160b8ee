"""skyfence.regions"""
