#!/usr/bin/env node
import { runGatewayProcess } from './server.js';

await runGatewayProcess();
