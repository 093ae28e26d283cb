"""Developer tooling: the local dev chain, local gateways, the demo consortium and its synthetic history, the
contract compiler and Brownie support. May need a checkout of the project (node_modules, contracts/); the
gateway at run time never imports it."""
