/* pause --setup (setup.c): how vpcrid starts a pod's pause. */
#ifndef VPCRI_PAUSE_SETUP_H
#define VPCRI_PAUSE_SETUP_H

/* Sets the pod up and forks pause into it. Returns 0 in pause, set up (main's loop follows);
 * the setup process itself never returns. */
int pause_setup(int argc, char **argv);

#endif
