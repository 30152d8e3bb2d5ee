"""Rule files of the longitudinal registry: PROM instruments, MME factors, opioid measures, spine
episodes and the MIPS measure map (schemas and loaders in :mod:`openvbc.rules.registry.schema`)."""
