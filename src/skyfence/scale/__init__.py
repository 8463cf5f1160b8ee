"""skyfence.scale"""
