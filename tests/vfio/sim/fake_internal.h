/* SPDX-License-Identifier: MIT */
/*
 * Inside the fake kernel (fake_kernel.h): the state fake_kernel.c (files,
 * the device, edu, the wrapped calls) and fake_iommu.c (type1, iommufd and
 * the address spaces the device's DMA goes through) share.  One thread.
 */
#ifndef WPT_VFIO_SIM_FAKE_INTERNAL_H
#define WPT_VFIO_SIM_FAKE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../edu.h"
#include "fake_kernel.h"

/* What each fake file is; every one is a real fd on /dev/null, so no
 * number clashes and an lseek or a stray close stays harmless. */
enum kind { K_NONE, K_CONTAINER, K_GROUP, K_GDEV, K_IOMMUFD, K_CDEV,
	    K_PARAM, K_KMSG };

struct fake_state {
	int container;         /* fd, -1 when closed */
	bool iommu_set;
	uint32_t limit, avail, param;
	int group;             /* fd, -1 when closed */
	bool group_set;        /* on the container */
	int gdev;              /* device fd from the group, -1 */
	int iommufd;
	bool ioas_alive;
	int cdev;              /* -1 when closed */
	bool bound, attached;
	uint16_t command;
	uint8_t *bar;
	uint8_t buf[EDU_BUF_SIZE];
	char kmsg[512][160];
	unsigned int nr_kmsg, kmsg_read;
};

extern struct fake_state st;
extern struct fake_cfg cfg;

/* errno = err, -1. */
int fake_fail(int err);
enum kind fake_kind(int fd);
/* A new device fd, as the group hands it out. */
int fake_new_fd_gdev(void);

/* The ioctls of each kind of IOMMU file; the cdev's bind and attach
 * (anything else: ENOTTY). */
int fake_container_ioctl(unsigned long req, void *arg);
int fake_group_ioctl(unsigned long req, void *arg);
int fake_iommufd_ioctl(unsigned long req, void *arg);
int fake_cdev_iommu_ioctl(unsigned long req, void *arg);
/* A container or iommufd was closed: its mappings go. */
void fake_container_closed(void);
void fake_iommufd_closed(void);

/* Where a device access at iova lands, or NULL if the IOMMU refuses. */
uint8_t *fake_translate(uint64_t iova, bool write);

#endif
