// vnumactl: see host-broker/ctl/Ctl.hpp for the command contract.
#include <iostream>

#include "host-broker/ctl/Ctl.hpp"

int main(int argc, char** argv) {
  return vnuma::broker::ctl::runCtl(argc, argv, std::cout, std::cerr);
}
