# ---- sim/: the simulated guest, one archive for tests and tools ----
# The guest model (an IOMMU driver writing its tables into a RAM buffer as
# a guest would) and the oracle (a naive full walk to compare the shadow
# with).  Built once into $(BUILD)/sim/libwptsim.a; wpt-tracegen and the
# tests that drive the library with it link that archive.
SIM_SRCS := $(wildcard sim/*.c)
SIM_OBJS := $(SIM_SRCS:%.c=$(BUILD)/%.o)
SIM_LIB  := $(BUILD)/sim/libwptsim.a

$(SIM_LIB): $(SIM_OBJS)
	rm -f $@ && ar rcs $@ $^
# ---- end sim/ ----
