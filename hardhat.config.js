// Hardhat 2 compiles contracts/ offline with the same pinned npm solcjs as chain/compiler.py
// (py-solc-x over chain/solc_shim.js). Keep the settings below identical to
// chain/compiler.py:solc_settings(); tests/test_toolchain.py checks the bytecode matches.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper(args);
  const solcPkg = require("solc/package.json");
  if (solcPkg.version !== SOLC_VERSION) {
    throw new Error(`npm solc ${solcPkg.version} installed, ${SOLC_VERSION} pinned`);
  }
  const compilerPath = path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js");
  return { compilerPath, isSolcJs: true, version: SOLC_VERSION, longVersion: require("solc").version() };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      viaIR: true,
      evmVersion: "paris",
    },
  },
  paths: { sources: "./contracts", artifacts: "./build/hardhat/artifacts", cache: "./build/hardhat/cache" },
  networks: {
    local: { url: process.env.TRADENET_LOCAL_RPC_URL || "http://127.0.0.1:8545" },
    besu: { url: process.env.TRADENET_BESU_RPC_URL || "http://127.0.0.1:8545" },
  },
};
