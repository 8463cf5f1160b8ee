"""skyfence.cli"""
