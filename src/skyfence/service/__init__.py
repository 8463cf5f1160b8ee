"""skyfence.service"""
