"""skyfence.orbits"""
