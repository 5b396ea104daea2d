/* The `true` the kernel floor (vpcri-kernel-floor) execs: static, so no dynamic loader runs. */
int main(void) { return 0; }
