"""skyfence.analysis"""
