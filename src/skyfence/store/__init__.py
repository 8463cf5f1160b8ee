"""skyfence.store"""
