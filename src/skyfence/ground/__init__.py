"""skyfence.ground"""
