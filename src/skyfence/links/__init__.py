"""skyfence.links"""
